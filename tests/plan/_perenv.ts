import { generateManifests } from "../../templates/generate.ts";
import { configTable, parseRaw, rawConfig, rawEnvironment } from "../generate_table.ts";
const TABLE = configTable();
const [file] = generateManifests(TABLE["thousand-envs-approvals-tests"]!);
const one = generateManifests(parseRaw(rawConfig([rawEnvironment("env1", { approval: true })])));
console.log((file!.bytes - one[0]!.bytes) / 999);
