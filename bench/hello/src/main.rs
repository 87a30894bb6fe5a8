//! The baseline of `bench/lambda_bench.py`: what a `lambda_http` function costs with nothing of ours in it.

use lambda_http::{Body, Error, Request, Response, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    run(service_fn(|_request: Request| async { Ok::<_, Error>(Response::new(Body::from("hello"))) })).await
}
