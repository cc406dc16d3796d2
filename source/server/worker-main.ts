/**
 * Entry point of a worker thread: builds the WorkerThread from its start data and reports
 * ready to main. A failure here surfaces on main as the worker's 'error' event.
 */
import { parentPort, workerData } from 'node:worker_threads'
import type { WorkerStartData } from '../envoy/server/worker.js'
import { WorkerThread } from './worker-thread.js'

await new WorkerThread(workerData as WorkerStartData).start(parentPort!)
