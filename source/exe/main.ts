import { Worker } from 'node:worker_threads'
enum X { A }
export const y: number = X.A
console.log(Worker.name)
