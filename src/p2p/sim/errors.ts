/** Errors of the simulator (STYLE §5). Invalid arguments use `InvalidOptionError`. */
import { GhostnetError } from '../../errors.js';

/**
 * The simulator was used in a way its state does not allow: running the clock from inside
 * one of its own events, or exceeding `maxPendingEvents` (a runaway protocol in a test).
 */
export class SimStateError extends GhostnetError {
  constructor(message: string) {
    super('GN_ERR_SIM_STATE', message);
  }
}
