// app/api/health/route.ts — what the health checker's version check reads
// (policy: version: {path: /api/health, json_pointer: /commit}).
export const dynamic = "force-dynamic";

export function GET() {
  return Response.json(
    { status: "ok", commit: process.env.NEXT_PUBLIC_DEPLOYED_COMMIT ?? "unknown" },
    { headers: { "cache-control": "no-store", "x-deployed-commit": process.env.NEXT_PUBLIC_DEPLOYED_COMMIT ?? "" } },
  );
}
