"""The tenant console: Django's admin site, scoped to the tenants a user is a member of.

`site` (login throttle, project pages), `scoping` (the tenant-scoped ModelAdmin base every
console admin derives from), `charts` (server-side SVG). Pages live in each app's admin.py.
"""
