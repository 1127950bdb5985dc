/**
 * How the user runs a command, for usage lines and the hints we print (resume with …): `npm run agent --`
 * in a checkout, `droptune agent` when started through the package's bin (src/cli/droptune.ts).
 */
let throughBin = false;

/** Called by the bin before it loads the command. */
export function startedThroughBin(): void {
  throughBin = true;
}

/** `npm run <command> --` or `droptune <command>`: what to type before the options. */
export function howToRun(command: string): string {
  return throughBin ? `droptune ${command}` : `npm run ${command} --`;
}

/** `npm run <command>` or `droptune <command>`: the command's name in a sentence. */
export function commandName(command: string): string {
  return throughBin ? `droptune ${command}` : `npm run ${command}`;
}
