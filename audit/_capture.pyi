def capture(
    service: object,
    time_ns: object,
    method: object,
    path: object,
    route: object,
    status: object,
    duration_ns: object,
    client: object,
    user_agent: object,
    trace_id: object,
    principal: object,
    /,
) -> bytes | None: ...
def frame(tag: bytes, tag_crc: int, payload: bytes, /) -> bytes: ...
