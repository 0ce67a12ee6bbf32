/** Process entry of the `meridian` binary (bin/meridian.js loads the compiled copy). */
import { main } from './main.js';

process.exitCode = await main(process.argv.slice(2));
