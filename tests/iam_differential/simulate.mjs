// Reads simulations as JSON lines on stdin ({"id", "simulation"}), runs each through
// @cloud-copilot/iam-simulate, and writes {"id", "result"} lines: "Allowed",
// "ExplicitlyDenied", "ImplicitlyDenied", or "error: <message>". Used by tests/iam_differential.rs
// (an independent IAM simulator to compare stsgate's policy engine with).
import { createRequire } from 'node:module'
import { createInterface } from 'node:readline'
import { pathToFileURL } from 'node:url'

// The package is installed outside the source tree: resolved from STSGATE_IAM_SIMULATE_DIR.
const require = createRequire(process.env.STSGATE_IAM_SIMULATE_DIR + '/package.json')
const { runSimulation } = await import(
  pathToFileURL(require.resolve('@cloud-copilot/iam-simulate')).href
)

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity })
for await (const line of lines) {
  if (!line.trim()) continue
  const { id, simulation } = JSON.parse(line)
  let result
  try {
    const response = await runSimulation(simulation, {})
    result =
      response.resultType === 'error'
        ? 'error: ' + JSON.stringify(response.errors)
        : response.overallResult
  } catch (e) {
    result = 'error: ' + String(e)
  }
  process.stdout.write(JSON.stringify({ id, result }) + '\n')
}
