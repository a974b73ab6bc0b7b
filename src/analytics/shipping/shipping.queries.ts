/**
 * SHIPPING — shipments = distinct shipment_id of `shipment.dispatched` with event time in [from, to)
 *   (the earliest dispatch in range), grouped by that dispatch's carrier; delivered = a
 *   `shipment.delivered` of the same shipment_id exists at or after the dispatch (first one counts);
 *   dispatch → delivery p50/p95 = percentile_cont over the delivered ones, in seconds. On time =
 *   delivered at or before the dispatch's `promised_by`; late = delivered after it, or not delivered
 *   while promised_by has passed (as of the query); pending = not delivered and promised_by still in
 *   the future; on_time_share = on_time / (on_time + late), null when that is 0 (shipments without
 *   promised_by and pending ones are not in it).
 *
 * The figures pair events of the same order / shipment / session, which the aggregates cannot do, so
 * they read the raw events through the tenant-scoped view `tenant_events`.
 */
import type { TxSql } from "../../db/client.ts";
import type { AnalyticsRange } from "../shared/params.ts";
import { big, numOrNull } from "../shared/source.queries.ts";

export interface CarrierFigures {
  carrier: string;
  shipments: bigint;
  delivered: bigint;
  p50_seconds: number | null;
  p95_seconds: number | null;
  with_promise: bigint;
  on_time: bigint;
  late: bigint;
  pending: bigint;
}

export async function shippingFigures(tx: TxSql, range: AnalyticsRange, f: { carrier?: string }): Promise<CarrierFigures[]> {
  const { from, to } = range;
  const rows = await tx`
    with d as (
      select distinct on (props ->> 'shipment_id')
             props ->> 'shipment_id' as shipment_id, time as dispatched,
             coalesce(nullif(props ->> 'carrier', ''), 'unknown') as carrier,
             (props ->> 'promised_by')::timestamptz as promised_by
        from tenant_events
       where type = 'shipment.dispatched' and time >= ${from} and time < ${to}
         and props ->> 'shipment_id' is not null
       order by props ->> 'shipment_id', time
    ), s as (
      select d.shipment_id, d.carrier, d.dispatched, d.promised_by, min(e.time) as delivered
        from d
        left join tenant_events e
          on e.type = 'shipment.delivered' and e.props ->> 'shipment_id' = d.shipment_id
         and e.time >= d.dispatched and e.time >= ${from}
       group by d.shipment_id, d.carrier, d.dispatched, d.promised_by
    )
    select carrier,
           count(*) as shipments,
           count(delivered) as delivered,
           percentile_cont(0.5) within group (order by extract(epoch from (delivered - dispatched))::float8) as p50,
           percentile_cont(0.95) within group (order by extract(epoch from (delivered - dispatched))::float8) as p95,
           count(*) filter (where promised_by is not null) as with_promise,
           count(*) filter (where delivered is not null and delivered <= promised_by) as on_time,
           count(*) filter (where delivered > promised_by or (delivered is null and promised_by < now())) as late,
           count(*) filter (where delivered is null and promised_by >= now()) as pending
      from s
     ${f.carrier !== undefined ? tx`where carrier = ${f.carrier}` : tx``}
     group by carrier
     order by carrier`;
  return rows.map((r) => ({
    carrier: r.carrier as string,
    shipments: big(r.shipments),
    delivered: big(r.delivered),
    p50_seconds: numOrNull(r.p50),
    p95_seconds: numOrNull(r.p95),
    with_promise: big(r.with_promise),
    on_time: big(r.on_time),
    late: big(r.late),
    pending: big(r.pending),
  }));
}
