/** The middle of a few timings (the upper one of an even count): what every bench line reports. */
export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
