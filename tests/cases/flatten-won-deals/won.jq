.event
| select(.object_type == "opportunity" and .data.status_type == "won"
         and (.previous_data.status_type // "") != "won")
| {opportunity_id: .data.id, lead_id, lead_name: .data.lead_name,
   value: .data.value, currency: .data.value_currency,
   user: .data.user_name, won_at: (.date_updated | close_utc),
   days_to_win: (close_days(.data.date_created; .data.date_updated)
                 * 100 | round / 100),
   days_in_stage: (close_days(.previous_data.date_updated
                              // .data.date_created; .data.date_updated)
                   * 100 | round / 100)}
