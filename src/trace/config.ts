// Configuration keys of HEP tracing (OpenSIPS proto_tls trace_* parameters).
export const traceConfigShape = {};
