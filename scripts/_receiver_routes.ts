// The routes both receiver entry points offer: the library's JSON route, and Hamustro's (which the
// receiver's own modules may not import: Hamustro sits above the receiver).
import { DEFAULT_RECEIVER_COMMAND_OPTIONS, type RouteFactory } from "../src/receiver/cli.ts";
import { hamustroRoute } from "../src/hamustro/route.ts";

/** `--route json` and `--route hamustro`. */
export const RECEIVER_ROUTES: Readonly<Record<string, RouteFactory>> = Object.freeze({
  ...DEFAULT_RECEIVER_COMMAND_OPTIONS.routes,
  hamustro: ({ hamustroSecret, hamustroSignature }) => {
    if (!hamustroSecret) {
      throw new TypeError(
        "Cannot start the receiver as --route hamustro needs --hamustro-secret (or HAMUSTRO_SHARED_SECRET)",
      );
    }
    return hamustroRoute({ sharedSecretKey: hamustroSecret, signature: hamustroSignature });
  },
});
