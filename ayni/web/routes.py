"""Every page's routes in one list, for the app: public pages, members', moderators', admins'."""

from ayni.web import (
    account,
    admin,
    admin_federation,
    board,
    call_links,
    interactions,
    invitations,
    item_page,
    members,
    moderation,
    my_groups,
    my_items,
    notifications,
    pages,
    posting,
    push,
)

routes = [
    *pages.routes,
    *invitations.routes,
    *posting.routes,
    *my_items.routes,
    *account.routes,
    *push.routes,
    *item_page.routes,
    *call_links.routes,
    *board.routes,
    *notifications.routes,
    *interactions.routes,
    *my_groups.routes,
    *moderation.routes,
    *members.routes,
    *admin.routes,
    *admin_federation.routes,
]
