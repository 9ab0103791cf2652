"""The admin side: the JSON/CSV API under `/api/admin/`, the console under `/admin/`, the
live stream, the audit log. Everything here needs `PORTAL_ADMIN_TOKEN` (off without it)."""
