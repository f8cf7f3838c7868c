// The values of the features (Get/Set Features, NVMe 1.4, 5.21.1) and
// their defaults after a controller reset.

/** Current values of the features. */
export interface FeatureState {
  arbitration: number;
  powerState: number;
  temperatureThreshold: Map<number, number>;
  errorRecovery: number;
  writeCacheEnabled: boolean;
  /** Number of Queues: allocated I/O SQs and CQs (1-based counts). */
  ioSqs: number;
  ioCqs: number;
  /** Set Features Number of Queues was accepted since the reset. */
  queuesRequested: boolean;
  interruptCoalescing: number;
  /** Interrupt Vector Configuration (cdw11 per vector). */
  vectorConfig: Map<number, number>;
  writeAtomicity: number;
  asyncEventConfig: number;
}

export function defaultFeatures(volatileWriteCache: boolean, maxIoQueues: number): FeatureState {
  return {
    arbitration: 0,
    powerState: 0,
    temperatureThreshold: new Map(),
    errorRecovery: 0,
    writeCacheEnabled: volatileWriteCache,
    ioSqs: maxIoQueues,
    ioCqs: maxIoQueues,
    queuesRequested: false,
    interruptCoalescing: 0,
    vectorConfig: new Map(),
    writeAtomicity: 0,
    asyncEventConfig: 0,
  };
}
