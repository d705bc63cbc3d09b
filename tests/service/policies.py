"""Policy texts used by the service tests."""

from __future__ import annotations

HOT_SLA = """
lanes:
  - name: hot
    sla_minutes: 15
    require_available_now: true
    when:
      - field: demo_request
        equals: true
  - name: nurture
    assign: false
    when:
      - field: source
        equals: newsletter
  - name: standard
    sla_minutes: 240
pools:
  - name: sdr
    strategy: round_robin
max_reassignments: 2
notify_url: "{notify_url}"
"""

ACCEPTANCE = """
lanes:
  - name: standard
    sla_minutes: 240
pools:
  - name: sdr
    strategy: round_robin
    accept_within_minutes: 10
"""
