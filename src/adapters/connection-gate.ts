import type { Socket } from 'node:net';

export interface ConnectionGateOptions {
  /** Connections open at once, every address together. */
  total: number;
  /** Connections open at once from one address; none: no such cap. */
  perAddress?: number;
  /** The names of these limits in gateway.yml, for refusals (`limits.ssh.connections`). */
  names: { total: string; perAddress?: string };
}

export type Admission = { ok: true } | { ok: false; limit: string; message: string };

/**
 * Counts a server's open connections, in total and per remote address,
 * from accept to close: one client (or one address) cannot take every
 * socket of the gateway. The caller tells the refused client why, in its
 * protocol, and closes it.
 */
export class ConnectionGate {
  private open = 0;
  private readonly byAddress = new Map<string, number>();

  constructor(private readonly options: ConnectionGateOptions) {}

  admit(socket: Socket): Admission {
    const address = socket.remoteAddress ?? '?';
    const fromThere = this.byAddress.get(address) ?? 0;
    if (this.open >= this.options.total) return { ok: false, limit: this.options.names.total, message: `too many connections to the gateway (${this.options.names.total}: ${this.options.total})` };
    if (this.options.perAddress !== undefined && fromThere >= this.options.perAddress) {
      const name = this.options.names.perAddress ?? 'per address';
      return { ok: false, limit: name, message: `too many connections from ${address} (${name}: ${this.options.perAddress})` };
    }
    this.open++;
    this.byAddress.set(address, fromThere + 1);
    socket.once('close', () => {
      this.open--;
      const left = (this.byAddress.get(address) ?? 1) - 1;
      if (left > 0) this.byAddress.set(address, left);
      else this.byAddress.delete(address);
    });
    return { ok: true };
  }

  get size(): number {
    return this.open;
  }
}
