import { setTimeout as sleep } from "node:timers/promises";
import type { FastifyReply, FastifyRequest } from "fastify";
import { sinceReceived } from "./received.ts";

/**
 * An onSend hook that holds an answer until `floorMs` after the request arrived. Answers that must not tell anything
 * by their timing — a refused right password and a wrong one, a known address and an unknown one — do different
 * work (an alert to the owner, a reset token, one more row); held to a common floor they all leave at the same
 * moment, whichever work each did (bench/signin-oracle.ts measures it). Answers that tell anyway (a session for a
 * right password from a known device) pass through with `exempt`. Past the floor (an overloaded node) nothing is
 * added: the answer leaves as soon as it is ready, and the load's own noise is far larger than the difference.
 */
export function answerFloor(floorMs: number, exempt?: (reply: FastifyReply, payload: unknown) => boolean) {
  return async (req: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    if (floorMs <= 0 || exempt?.(reply, payload)) return payload;
    const wait = floorMs - sinceReceived(req);
    if (wait > 0) await sleep(wait);
    return payload;
  };
}

/** A sign-in answer that hands out a session tells the caller everything already: it need not wait. */
export const signedIn = (reply: FastifyReply, payload: unknown) =>
  reply.statusCode === 200 && typeof payload === "string" && payload.startsWith('{"status":"signed_in"');
