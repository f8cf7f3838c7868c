import type { BenchResults } from './run.js';
export interface ChartOptions {
    title?: string;
    /** The target ratio drawn as a line (default 1.5). */
    target?: number;
}
/** The figures as an SVG document. */
export declare function benchChartSvg(r: BenchResults, options?: ChartOptions): string;
