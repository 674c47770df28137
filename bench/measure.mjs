// What the clients (client.mjs, paced-client.mjs) measure about themselves, the same way: the
// clocks around the timed work and the figures they print. Imports only what they imported
// before, so their peak RSS and start-up stay what they were.
import { readFileSync } from 'node:fs'
import { monitorEventLoopDelay } from 'node:perf_hooks'

/** Nanoseconds the main thread has spent on a CPU (its task id is the pid). */
export function mainThreadCpuNs() {
  return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'latin1').split(' ')[0])
}

/** Starts the clocks around the work a client measures; pass the result to stopMeasuring. */
export function startMeasuring() {
  // How long callbacks wait for the one JS thread while the work runs: what every other request
  // served by this process would feel. resolution 1 ms: the default (10 ms) is too coarse for
  // delays that matter at a 20 ms pace.
  const loopDelay = monitorEventLoopDelay({ resolution: 1 })
  loopDelay.enable()
  const cpu0 = mainThreadCpuNs()
  const usage0 = process.cpuUsage()
  const t0 = performance.now()
  return { loopDelay, cpu0, usage0, t0 }
}

/** Stops the clocks: `{ wallMs, mainCpuNs, usage, loopDelay }`, read in this order. */
export function stopMeasuring({ loopDelay, cpu0, usage0, t0 }) {
  const wallMs = performance.now() - t0
  const usage = process.cpuUsage(usage0)
  const mainCpuNs = mainThreadCpuNs() - cpu0
  loopDelay.disable()
  return { wallMs, mainCpuNs, usage, loopDelay }
}

/** The result fields every client prints, in their order; peak RSS is read now, when they print. */
export function measuredFields({ wallMs, mainCpuNs, usage, loopDelay }, loopDelayPercentiles) {
  return {
    mainCpuMs: mainCpuNs / 1e6,
    processCpuMs: (usage.user + usage.system) / 1000,
    wallMs,
    maxRssMB: process.resourceUsage().maxRSS / 1024,
    ...Object.fromEntries(loopDelayPercentiles.map((p) => [`eventLoopDelayP${p}Ms`, loopDelay.percentile(p) / 1e6])),
  }
}
