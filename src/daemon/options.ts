// What a running lainlet needs to know; filled from the command line (cli/flags.ts).
export interface DaemonOptions {
  /** HTTP listen address (`-web`), e.g. `:9001` or `127.0.0.1:9001`. */
  web?: string;
  /** etcd client endpoints (`-etcd`), `host:port` or `http://host:port`. */
  etcd: string[];
  /** This node's IP (`-ip`). */
  ip: string;
  /** `-debug`: verbose logs. */
  debug: boolean;
  /** `-noauth`: no caller checks. */
  noAuth: boolean;
  /** gRPC listen address (`-grpc.addr`). */
  grpcAddr?: string;
  grpcTls?: boolean;
  grpcKey?: string;
  grpcCert?: string;
  /** Open watch streams beyond this get 503 (`-max-watchers`). */
  maxWatchers?: number;
  /** A watcher that has not drained its socket for this long is dropped (`-stall-timeout`). */
  stallTimeoutMs?: number;
  /** Keep this lainlet's key in the instance registry (`-register`, default true). */
  register?: boolean;
  /** Override of the machine's host name (tests); default os.hostname(). */
  hostname?: string;
}

export interface RunningDaemon {
  /** The bound HTTP port (useful with `-web 127.0.0.1:0`). */
  readonly httpPort: number | undefined;
  /** Stop serving, close every stream and the etcd connection. */
  close(): Promise<void>;
}
