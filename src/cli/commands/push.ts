import { defineCommand } from "../command.ts";
import { networkFlags, networkOptions, remoteContext } from "../network-flags.ts";
import { openStorage, parseSingleRef, startProgress } from "../session.ts";
import { LOCAL_REGISTRY, refToString, repoKey } from "../../oci/reference.ts";
import { registryErrorIn, statusText } from "../../registry/http.ts";
import { openSession } from "../../registry/remote.ts";
import { pushTarget } from "../../registry/transfer.ts";
import { copy } from "../../store/copy.ts";
import { LocalRepository } from "../../store/local.ts";
import { CancelledError, KitError, NotFoundError, errorMessage, hintIn } from "../../util/errors.ts";

export const pushCommand = defineCommand({
  name: "push",
  use: "push [flags] SOURCE [DESTINATION]",
  short: "Upload a modelkit to a specified registry",
  long: `Push a ModelKit from local storage to a registry.

SOURCE names a ModelKit in local storage; it is uploaded to DESTINATION, or to the same
reference when no destination is given (SOURCE must then name a registry). Blobs the registry
already has are not uploaded again; a failed upload is retried in a fresh upload session.`,
  example: `  # Push a ModelKit packed as registry.example.com/myorg/mymodel:v1
  kit push registry.example.com/myorg/mymodel:v1

  # Push a local ModelKit to a registry under another name
  kit push mymodel:v1 registry.example.com/myorg/mymodel:v1

  # A registry on localhost over plain HTTP
  kit push localhost:5000/mymodel:v1 --plain-http`,
  args: { min: 1, max: 2 },
  argCompletion: "modelkit",
  flags: { ...networkFlags },
  async run(ctx, args, flags) {
    const net = networkOptions(flags, ctx.cwd);
    const src = parseSingleRef(args[0]!, "reference");
    const dst = args.length > 1 ? parseSingleRef(args[1]!, "target reference") : src;
    if (dst.registry === LOCAL_REGISTRY) throw new KitError("Invalid arguments: registry is required when pushing");

    const storage = await openStorage(ctx);
    const local = new LocalRepository(storage, repoKey(src));
    try {
      await local.resolve(src.reference, { signal: ctx.signal });
    } catch (e) {
      if (e instanceof NotFoundError) throw new KitError(`Failed to push: model ${refToString(src)} not found.`);
      throw e;
    }
    const ui = startProgress(ctx);
    try {
      const session = await openSession(net, remoteContext(ctx, ui.log));
      const remote = session.repository(dst.registry, dst.repository, {
        actions: ["pull", "push"],
        mountFrom: src.registry === dst.registry ? [src.repository] : [],
      });
      ui.log.info(args.length > 1 ? `Pushing ${refToString(src)} to ${refToString(dst)}` : `Pushing ${refToString(src)}`);
      const desc = await copy(local, src.reference, pushTarget(remote, local, ui.progress), dst.reference, {
        concurrency: net.concurrency,
        signal: ctx.signal,
      });
      ui.close();
      ctx.log.info(`Pushed ${desc.digest}`);
    } catch (e) {
      ui.close();
      if (e instanceof CancelledError || ctx.signal.aborted) throw e;
      const re = registryErrorIn(e);
      if (re) {
        let msg = `Failed to push: got response ${re.status} (${statusText(re.status)}) from remote`;
        if (re.status === 401) msg += ". Ensure the repository exists and you have push access to it.";
        throw new KitError(msg, { cause: e, hint: re.status === 401 ? undefined : `The registry said: ${re.message}` });
      }
      throw new KitError(`Failed to push: ${errorMessage(e)}.`, { cause: e, hint: hintIn(e) });
    }
  },
});
