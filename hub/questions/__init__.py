"""Teachers' questions: asking (with KB suggestions), department queues, answers, merging,
escalation to the central team on business-hours targets, attachments and the audit trail."""
