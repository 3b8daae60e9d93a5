/** Generators of large configurations for benchmarks. */

/** A valid config with `envs` environments of `stacks` stacks each, padded with realistic commands. */
export function largeConfig(
  envs: number,
  options: { stacks?: number; commands?: number } = {},
): string {
  const stacks = options.stacks ?? 10;
  const commands = options.commands ?? 20;
  const out = [
    'version: "1.0"',
    "build:",
    "  commands:",
    "    - npm ci",
    "    - npm run build",
    "environments:",
  ];
  for (let e = 0; e < envs; e++) {
    out.push(
      `  - name: env-${e}`,
      `    region: ${e % 2 ? "eu-west-1" : "us-east-1"}`,
      `    account: "${String(100000000000 + e).padStart(12, "0")}"`,
      "    stacks:",
    );
    for (let s = 0; s < stacks; s++) {
      out.push(
        `      - name: Service${s}-Env${e}`,
        `        path: infra/stacks/service-${s}-stack.ts`,
      );
    }
    out.push("    tests:", "      commands:");
    for (let c = 0; c < commands; c++) {
      out.push(
        `        - npm run test:integration -- --env env-${e} --suite suite-${c} --reporter junit`,
      );
    }
  }
  return out.join("\n") + "\n";
}
