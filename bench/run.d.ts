/**
 * One socket case: vfio-ts against the C ping-pong moving the same bytes,
 * measured in interleaved rounds (bench/vfio-user-bench.ts): times are
 * medians over the rounds, `ratio` the median of the per-round ratios.
 */
export interface SocketRow {
    name: string;
    median_ns: number;
    p99_ns: number;
    base_median_ns: number;
    base_p99_ns: number;
    /** vfio-ts median / C median, the median over the rounds. */
    ratio: number;
    /** The lowest and highest per-round ratio. */
    ratio_min?: number;
    ratio_max?: number;
    rounds?: number;
    /** CPU time per round trip: client main thread + server, and the two C processes. */
    cpu_ns?: number;
    client_cpu_ns?: number;
    server_cpu_ns?: number;
    base_cpu_ns?: number;
}
/** NVMe: our driver against our model, mapped doorbells, polling. */
export interface NvmeRow {
    name: string;
    qd: number;
    iops: number;
    MBps: number;
    p50_us: number;
    p99_us: number;
    p999_us: number;
    gcs: number;
    gc_ms: number;
}
export interface DmaRow {
    dma_GBps: number;
    memcpy_GBps: number;
    ratio: number;
}
export interface BenchResults {
    socket: SocketRow[];
    dma?: DmaRow;
    nvme: NvmeRow[];
}
export interface BenchOptions {
    quick?: boolean;
    /** CPU both peers of the socket cases run on (default $BENCH_CPU or 0). */
    cpu?: string;
}
/** Runs every benchmark (needs gcc and taskset) and returns the figures. */
export declare function runBenchmarks(options?: BenchOptions): BenchResults;
/** The figures as the markdown tables of BENCHMARKS.md. */
export declare function benchMarkdown(r: BenchResults): string;
