"""The API Gateway HTTP API (payload 2.0) event shape that events/*.json use, in one place.

Imported by make_prepay_event.py and make_notify_event.py; each gives its route's own headers, caller
and times, and this builds the rest exactly as API Gateway lays it out.
"""

API_ID = "a1b2c3d4e5"
DOMAIN = f"{API_ID}.execute-api.ap-southeast-1.amazonaws.com"


def http_api_event(
    *,
    path: str,
    headers: dict,
    body: str,
    is_base64: bool,
    source_ip: str,
    user_agent: str,
    request_id: str,
    trace_id: str,
    time: str,
    time_epoch_ms: int,
) -> dict:
    """A `POST {path}` event on the `$default` stage; `headers` are the route's own (content type...)."""
    route = f"POST {path}"
    return {
        "version": "2.0",
        "routeKey": route,
        "rawPath": path,
        "rawQueryString": "",
        # Lowercase names in alphabetical order, as API Gateway hands them over.
        "headers": dict(
            sorted(
                {
                    **headers,
                    "host": DOMAIN,
                    "user-agent": user_agent,
                    "x-amzn-trace-id": trace_id,
                    "x-forwarded-for": source_ip,
                    "x-forwarded-port": "443",
                    "x-forwarded-proto": "https",
                }.items()
            )
        ),
        "requestContext": {
            "accountId": "123456789012",
            "apiId": API_ID,
            "domainName": DOMAIN,
            "domainPrefix": API_ID,
            "http": {
                "method": "POST",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": user_agent,
            },
            "requestId": request_id,
            "routeKey": route,
            "stage": "$default",
            "time": time,
            "timeEpoch": time_epoch_ms,
        },
        "body": body,
        "isBase64Encoded": is_base64,
    }
