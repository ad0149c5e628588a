import { MagratheaError } from '../core/errors.js';

/** Rejects the push with lines for the pusher; no branch moves. */
export class Rejection extends MagratheaError {
  constructor(message: string) {
    super(message, 'push-rejected');
  }
}
