// vfio-ts public entry point.
export * from './errors.js';
