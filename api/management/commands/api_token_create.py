"""Create or rotate the API token of a user and print it."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from rest_framework.authtoken.models import Token


class Command(BaseCommand):
    help = (
        "Create an API token for USERNAME, or replace the existing one (the old token "
        "stops working), and print it. Integrations send it as 'Authorization: Token <key>'. "
        "A partner user's token sees that partner only."
    )

    def add_arguments(self, parser):
        parser.add_argument("username", help="the login the token acts as")

    @transaction.atomic
    def handle(self, *args, username: str, **options):
        user_model = get_user_model()
        user = user_model.objects.filter(**{user_model.USERNAME_FIELD: username}).first()
        if user is None:
            raise CommandError(f"No user {username!r}.")
        if not user.is_active:
            raise CommandError(f"User {username!r} is inactive; a token would not work.")
        rotated = Token.objects.filter(user=user).delete()[0] > 0
        token = Token.objects.create(user=user)
        self.stderr.write(
            "Rotated the token; the old one no longer works." if rotated else "Created a token."
        )
        self.stdout.write(token.key)
