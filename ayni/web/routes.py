"""Every page's routes in one list, for the app: public pages, members', moderators', admins'."""

from ayni.web import (
    account,
    admin,
    admin_federation,
    board,
    call_links,
    conversations,
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
)

routes = [
    *pages.routes,
    *invitations.routes,
    *posting.routes,
    *my_items.routes,
    *account.routes,
    *item_page.routes,
    *call_links.routes,
    *board.routes,
    *notifications.routes,
    *interactions.routes,
    *my_groups.routes,
    *moderation.routes,
    *conversations.routes,
    *members.routes,
    *admin.routes,
    *admin_federation.routes,
]
