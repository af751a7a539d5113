/**
 * The bcrypt worker thread of basic auth: compares one password with one hash at a time, blocking.
 * Blocking here costs the server's event loop nothing, where bcryptjs's asynchronous compare on the
 * main thread runs in slices of up to 100 ms that every probe and scrape would wait behind.
 */
import bcrypt from 'bcryptjs';
import { parentPort } from 'node:worker_threads';
import type { BcryptReply, BcryptRequest } from './basic-auth.js';

const port = parentPort;
if (port === null) throw new Error('bcrypt-worker must run as a worker thread');

port.on('message', (request: BcryptRequest) => {
  let matches = false;
  try {
    matches = bcrypt.compareSync(request.password, request.hash);
  } catch {
    // A hash bcryptjs cannot read matches nothing; the file's hashes were checked when it was loaded.
  }
  const reply: BcryptReply = { id: request.id, matches };
  port.postMessage(reply);
});
