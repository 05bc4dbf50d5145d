import { basename } from 'node:path';
import { Option } from 'clipanion';

import { RingctlCommand } from '../../common/command.js';
import { pathsFor, requireState } from '../../host/cli.js';
import type { DoorbellServer } from '../../host/doorbell.js';
import { writeState } from '../../host/state.js';
import type { ServerHello } from '../../host/process.js';

/**
 * `ringctl host doorbell-server NAME`: the doorbell server `host up --doorbell`
 * starts in the background. Not for direct use (no usage: hidden from --help);
 * it tells its parent over IPC when it listens, logs to stdout, writes each
 * guest's doorbell id into the rosters that list it as guests come and go, and
 * stops on SIGTERM or SIGINT. With `--replace` (packaging/systemd's
 * kvmring-doorbell@.service, which restarts it on failure) it first stops the
 * server the state records, then records itself, so that `host down` stops it.
 */
export class HostDoorbellServerCommand extends RingctlCommand {
  static override paths = [['host', 'doorbell-server']];

  replace = Option.Boolean('--replace', false);
  name = Option.String({ name: 'NAME' });

  async run(): Promise<number> {
    const hello = (m: ServerHello) => {
      if (process.send && process.connected) process.send(m);
    };
    const log = (line: string) => this.context.stdout.write(`${new Date().toISOString()} ${line}\n`);
    let server: DoorbellServer;
    try {
      const paths = pathsFor(this.name, this.context.env);
      const state = requireState(paths);
      // The server's libc binding (koffi) is slow to load; no other verb needs it.
      const [{ DoorbellServer }, { serverConfig }, { rosterIdWriter }, { openModule }] = await Promise.all([
        import('../../host/doorbell.js'),
        import('../../host/process.js'),
        import('../../host/files.js'),
        import('../../host/kvmring.js'),
      ]);
      const old = state.doorbell?.pid;
      if (this.replace && old !== undefined && old !== process.pid) {
        const { stopDoorbellServer } = await import('../../host/process.js');
        log(`replacing the doorbell server pid ${old}: ${await stopDoorbellServer(old, this.name)}`);
      }
      // kvmring.ko's rosters are rewritten by the module (under an odd seq, as ringctl does through a mapping).
      const mod = state.provider === 'kvmring' ? openModule(state.dir) : undefined;
      const write = rosterIdWriter(state.plan, state.dir, mod ? (path, roster) => mod.setRoster(basename(path), roster) : undefined);
      const onIds = (ids: Map<string, number | undefined>) => {
        const rewritten = write(ids);
        if (rewritten.length) log(`doorbell ids ${[...ids].map(([g, id]) => `${g}=${id ?? '-'}`).join(' ')}: rewrote the rosters of ${rewritten.join(', ')}`);
      };
      server = await DoorbellServer.start(serverConfig(state, paths, log, onIds));
      if (this.replace && state.doorbell) {
        state.doorbell.pid = process.pid;
        writeState(paths, state);
      }
    } catch (err) {
      hello({ error: err instanceof Error ? err.message : String(err) });
      throw err;
    }
    const stop = (sig: string) => {
      log(sig);
      void server.close();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGHUP', () => {}); // the terminal `host up` ran in may go away
    hello({ ready: true, pid: process.pid });
    await server.closed;
    log('stopped');
    return 0;
  }
}
