"""CRM connectors: HubSpot and Salesforce webhook verification and parsing, owner
write-back through the official client libraries, and the retry schedule of the outbox.
No SQL and no HTTP framework here: the service's CRM worker and webhook routes use them."""
