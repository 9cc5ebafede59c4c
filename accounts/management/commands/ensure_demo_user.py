from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from accounts.services import demo_user_ensure


class Command(BaseCommand):
    help = "Create (or reset the password of) the demo user and print its login."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", default="demo@heygem.local")
        parser.add_argument("--password", default="heygem-demo")

    def handle(self, *args: Any, **options: Any) -> None:
        user, created = demo_user_ensure(email=options["email"], password=options["password"])
        verb = "Created" if created else "Ready"
        self.stdout.write(f"{verb} demo login: {user.email} / {options['password']}")
