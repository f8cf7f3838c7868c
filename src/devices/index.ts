// Device models served by the vfio-user server (src/server).

export * from './edu.js';
