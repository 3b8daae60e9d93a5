import { generateManifests } from "../../templates/generate.ts";
import { configTable } from "../generate_table.ts";
const [file] = generateManifests(configTable()["thousand-envs-approvals-tests"]!);
const text = (file as unknown as { text?: string; content?: string }).text ??
  (file as unknown as { content: string }).content;
const i = text.indexOf("name: approve-env500");
console.log(text.slice(i - 20, i + 700));
