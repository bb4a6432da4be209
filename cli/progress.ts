/** A progress bar on stderr: redrawn in place on a terminal, a line per 10% otherwise (logs, CI). */
export function progressLine(label: string) {
  const tty = process.stderr.isTTY;
  let lastDecile = -1;
  return {
    update(done: number, total: number, extra = "") {
      const fraction = total ? done / total : 1;
      if (tty) {
        const width = 24;
        const filled = Math.round(fraction * width);
        process.stderr.write(`\r${label} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${done}/${total} ${extra}  `);
      } else if (Math.floor(fraction * 10) > lastDecile) {
        lastDecile = Math.floor(fraction * 10);
        process.stderr.write(`${label} ${done}/${total} ${extra}\n`);
      }
    },
    end() {
      if (tty) process.stderr.write("\n");
    },
  };
}
