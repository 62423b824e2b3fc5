"""The payload of transaction n, as payload.mjs makes it: shared by the Python writer and reader."""


def payload_size(n, kind):
    if kind == "mixed":
        if n == 25:
            return 10 * 1024 * 1024
        return [10, 4096, 100_000, 1_000_000, 300][n % 5]
    return 100 + (n % 7) * 50


def payload_for(n, kind):
    size = payload_size(n, kind)
    ramp = bytes((n + i) % 256 for i in range(256))
    return (ramp * (size // 256 + 1))[:size]
