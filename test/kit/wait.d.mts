export function sleep(ms: number): Promise<void>;
export function waitFor<T>(cond: () => T | Promise<T>, timeoutMs: number, stepMs?: number): Promise<T>;
export function waitUntil(cond: () => unknown, timeoutMs: number, stepMs?: number): Promise<boolean>;
