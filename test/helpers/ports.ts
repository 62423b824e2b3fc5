// A free TCP port on loopback, for listeners a test starts (the shared kit's, test/kit/ports.mjs).
export { freePort } from '../kit/ports.mjs';
