"""purge_expired_stories: expired stories go with their photos; everything else stays."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from photoshare.db import utcnow
from photoshare.jobs import purge_expired_stories
from photoshare.media import media_path
from photoshare.models import Media, Post, Story
from photoshare.settings import Settings
from tests.factories import World


def _keys(settings: Settings) -> set[str]:
    return {path.stem for path in settings.media_dir.iterdir()}


def test_expired_stories_and_their_photos_are_deleted(
    db: Session, world: World, settings: Settings
) -> None:
    alice = world.user("alice")
    expired = [world.story(alice, age=timedelta(hours=hours)) for hours in (25, 72)]
    live = world.story(alice, age=timedelta(hours=23))
    post = world.post(alice)
    expired_keys = {story.media.key for story in expired}
    expired_ids = {story.id for story in expired}

    assert purge_expired_stories(db, settings.media_dir) == 2

    db.expire_all()
    assert db.scalars(select(Story.id)).all() == [live.id]
    assert not expired_keys & set(db.scalars(select(Media.key)))
    assert not expired_keys & _keys(settings)
    assert _keys(settings) == {live.media.key, post.media.key}
    assert db.get(Post, post.id) is not None
    assert all(db.get(Story, story_id) is None for story_id in expired_ids)


def test_purging_again_finds_nothing(db: Session, world: World, settings: Settings) -> None:
    alice = world.user("alice")
    world.story(alice, age=timedelta(hours=30))
    assert purge_expired_stories(db, settings.media_dir) == 1
    assert purge_expired_stories(db, settings.media_dir) == 0
    assert _keys(settings) == set()


def test_the_clock_can_be_given(db: Session, world: World, settings: Settings) -> None:
    alice = world.user("alice")
    story = world.story(alice, age=timedelta(hours=1))
    assert purge_expired_stories(db, settings.media_dir, now=utcnow()) == 0
    later = utcnow() + timedelta(hours=24)
    assert purge_expired_stories(db, settings.media_dir, now=later) == 1
    db.expire_all()
    assert db.get(Story, story.id) is None


def test_a_missing_file_does_not_stop_the_purge(
    db: Session, world: World, settings: Settings
) -> None:
    alice = world.user("alice")
    story = world.story(alice, age=timedelta(hours=48))
    media_path(settings.media_dir, story.media.key).unlink()
    assert purge_expired_stories(db, settings.media_dir) == 1
    db.expire_all()
    assert db.scalars(select(Story)).all() == []
