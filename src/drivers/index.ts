// Drivers written on the Driver API (src/client): they work on any Device.

export * from './edu.js';
