"""Create (or find) a user for trying the service, and print their API token."""
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from rest_framework.authtoken.models import Token

from datalab.datalab_session.models import UserProfile


class Command(BaseCommand):
    help = "Create a user (admin rights by default) and print its API token."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="demo")
        parser.add_argument("--no-admin", action="store_true", help="Create an ordinary user.")
        parser.add_argument("--reset-password", action="store_true")
        parser.add_argument("--proposal", action="append", default=[], metavar="ID",
                            help="Grant this proposal's proprietary archive frames (repeatable).")

    def handle(self, *args, username: str, no_admin: bool, reset_password: bool, proposal: list[str],
               **options):
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(username=username)
        if created or reset_password:
            password = secrets.token_urlsafe(12)
            user.set_password(password)
            user.is_staff = user.is_superuser = not no_admin
            user.save()
            self.stdout.write(f"User '{username}' password: {password}")
        if proposal:
            profile, _ = UserProfile.objects.get_or_create(user=user)
            profile.archive_proposals = sorted({*profile.archive_proposals, *proposal})
            profile.save()
            self.stdout.write(f"Proposals of '{username}': {', '.join(profile.archive_proposals)}")
        token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(f"API token for '{username}': {token.key}")
