/** Serves the REST API on the loopback interface only, on a given or any free port. */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { ConfigurationError, describeError } from '../../core/errors.ts';
import { createRestApp, type RestAppOptions } from './rest-app.ts';

/** The only interface the REST API listens on: it can cancel jobs and write savepoints. */
export const REST_BIND_HOST = '127.0.0.1';

/** Options of {@link startRestServer}. */
export interface RestServerOptions extends RestAppOptions {
  /** 0 (the default) picks any free port: jobs started side by side never clash. */
  readonly port?: number;
}

/** A running REST server. */
export interface RestServer {
  /** `http://127.0.0.1:PORT` */
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Starts serving; resolves once the port is bound, rejects with a ConfigurationError naming
 * the port when it cannot be (in use, no permission).
 *
 * @example
 * ```ts
 * const server = await startRestServer({ registry, port: 0 });
 * console.log(`REST API at ${server.address}`);
 * await server.close();
 * ```
 */
export function startRestServer(options: RestServerOptions): Promise<RestServer> {
  const port = options.port ?? 0;
  if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) {
    return Promise.reject(
      new ConfigurationError(`REST port must be an integer from 0 to 65535, got ${port}`),
    );
  }
  const app = createRestApp(options);
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port, hostname: REST_BIND_HOST }, (info: AddressInfo) => {
      server.off('error', onError);
      resolve({
        address: `http://${REST_BIND_HOST}:${info.port}`,
        port: info.port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            // Idle keep-alive connections would otherwise hold the process open.
            if ('closeAllConnections' in server) server.closeAllConnections();
          }),
      });
    });
    const onError = (error: Error): void => {
      reject(
        new ConfigurationError(
          `cannot serve the REST API on ${REST_BIND_HOST}:${port}: ${describeError(error)}`,
          {
            cause: error,
          },
        ),
      );
    };
    server.once('error', onError);
  });
}
