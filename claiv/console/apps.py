"""Django's admin app with the console's site as `admin.site`."""

from django.contrib.admin.apps import AdminConfig


class ConsoleAdminConfig(AdminConfig):
    default_site = "claiv.console.site.ConsoleSite"
