// Builds the images once before any container test file starts (on Podman: copies them from
// Docker; see images.ts). A build can take minutes on a loaded machine; here it is under no
// test hook's timeout, and test files find the images ready.
import { buildImages } from './images.js';

export default async function setup(): Promise<void> {
  await buildImages();
}
