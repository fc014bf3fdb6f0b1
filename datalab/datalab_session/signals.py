"""Model signals: a profile for every new user, and output files released with their operations."""
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from datalab.datalab_session.models import DataOperation, UserProfile
from datalab.datalab_session.outputs import output_basenames, release_outputs


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def create_profile(sender, instance, created: bool, **kwargs) -> None:
    if created:
        UserProfile.objects.get_or_create(user=instance)


@receiver(post_delete, sender=DataOperation)
def release_deleted_operation_outputs(sender, instance: DataOperation, **kwargs) -> None:
    """Deleting an operation (alone, in bulk, or with its session) deletes the outputs nobody else lists.

    The check runs after commit, when every operation deleted together is gone: a result shared by
    two deleted operations goes, one shared with a remaining operation stays.
    """
    basenames = output_basenames(instance.output)
    if basenames:
        transaction.on_commit(partial(release_outputs, user_id=instance.user_id, cache_key=instance.cache_key,
                                      basenames=basenames))
