"""Listings API: publish, search, read, edit and withdraw listings (photos are uploaded on the site)."""

from __future__ import annotations

from marketplace.api import endpoint
from marketplace.credit.policy import band
from marketplace.extensions import listing_limit
from marketplace.grading import engine as grading
from marketplace.identity.privacy import shown_name
from marketplace.identity.service import public_profile
from marketplace.listings import fields, search, service
from marketplace.listings.models import Listing
from marketplace.listings.schemas import (
    CertifiedOut,
    ListingIn,
    ListingOut,
    ListingPage,
    ListingPatch,
    ListingQuery,
    ListingSummary,
    PhotoOut,
    SellerSummary,
)
from marketplace.listings.search import SearchParams, search_listings
from marketplace.listings.views import photo_url
from marketplace.pagecache import public_page

TAGS = ("listings",)
# Werkzeug checks the id converter's range after the method: an id beyond any column on a
# path that also has other methods answers 405, not 404 (reported to the lead; documented here).
BEYOND_ID = 405


def api_status(listing: Listing) -> str:
    """The status as the API names it: a listing its seller withdrew is `removed` to everyone else too."""
    return "removed" if listing.status == "withdrawn" else listing.status


def listing_out(listing: Listing, viewer) -> ListingOut:
    """The full listing as `viewer` may see it."""
    cert = listing.certified
    # Cleaned again on the way out, as the listing page does (rows can be written around the service).
    description = fields.sanitise_stored(listing.description)
    return ListingOut(
        id=listing.id,
        title=listing.title,
        description=description,
        description_text=search.plain_text(description),
        category=listing.category,
        price_fen=listing.price_fen,
        district=listing.district,
        status=api_status(listing),
        grade=listing.grade,
        grade_label=grading.grade_label(listing.category, listing.grade),
        grading=service.visible_answers(viewer, listing),
        standard_version=listing.standard_version,
        safety_warning=listing.safety_warning,
        recycle_only=listing.recycle_only,
        certified=CertifiedOut(
            grade=cert.grade,
            grade_label=grading.grade_label(listing.category, cert.grade),
            inspector=shown_name(cert.inspector),
            at=cert.created_at,
        )
        if cert is not None
        else None,
        seller=public_profile(listing.seller_id),
        photos=[
            PhotoOut(url=photo_url(p), thumb_url=photo_url(p, thumb=True), width=p.width, height=p.height)
            for p in listing.photos
        ],
        event_id=listing.event_id,
        created_at=listing.created_at,
        updated_at=listing.updated_at,
    )


def _summary(listing: Listing, verified: set[int]) -> ListingSummary:
    cert = listing.certified
    seller = listing.seller
    return ListingSummary(
        id=listing.id,
        title=listing.title,
        category=listing.category,
        price_fen=listing.price_fen,
        district=listing.district,
        status=api_status(listing),
        grade=listing.grade,
        safety_warning=listing.safety_warning,
        recycle_only=listing.recycle_only,
        certified_grade=cert.grade if cert is not None else None,
        thumb_url=photo_url(listing.photos[0], thumb=True) if listing.photos else None,
        seller=SellerSummary(
            id=seller.id,
            display_name=shown_name(seller),
            verified=seller.id in verified,
            credit={"score": seller.credit_score, "band": band(seller.credit_score)},
        ),
        created_at=listing.created_at,
    )


@endpoint(
    "/listings",
    "POST",
    summary=(
        "Publish a listing (verified sellers). Phones, appliances and vehicles need their checklist in "
        "`grading`; the grade is computed. Price in fen. Photos are added on the site, not through the API."
    ),
    tags=TAGS,
    body=ListingIn,
    response=ListingOut,
    status=201,
    errors=(403, 422),
    decorators=(listing_limit,),
)
def create_listing(*, user, body: ListingIn):
    listing = service.create(
        user,
        service.ListingInput(
            title=body.title,
            description=body.description,
            category=body.category,
            price_fen=body.price_fen,
            district=body.district,
            grading=body.grading,
            event_id=body.event_id,
        ),
    )
    return listing_out(listing, user)


@endpoint(
    "/listings",
    summary="Search active listings: words, filters, sorts; pages by `cursor`",
    tags=TAGS,
    query=ListingQuery,
    response=ListingPage,
    auth="none",
    errors=(422,),
    decorators=(public_page,),
)
def list_listings(*, user, query: ListingQuery):
    page = search_listings(
        SearchParams(
            q=query.q or "",
            category=query.category,
            grade=query.grade,
            district=query.district,
            min_price_fen=query.min_price_fen,
            max_price_fen=query.max_price_fen,
            seller_id=query.seller_id,
            sort=query.sort or ("relevance" if query.q else "newest"),
            cursor=query.cursor,
            limit=query.limit,
        )
    )
    verified = service.verified_sellers(page.items)
    return ListingPage(items=[_summary(listing, verified) for listing in page.items], next_cursor=page.next_cursor)


@endpoint(
    "/listings/<int:listing_id>",
    summary="A listing with its seller's public profile, grade, checklist and certification",
    tags=TAGS,
    response=ListingOut,
    auth="optional",
    errors=(401, 404),
)
def get_listing(*, user, listing_id: int):
    return listing_out(service.get_visible(user, listing_id), user)


@endpoint(
    "/listings/<int:listing_id>",
    "PATCH",
    summary=(
        "Edit one's own listing: only the fields sent change; a new `grading` is graded again. "
        "`status`: `sold` marks an active listing sold, `active` puts a withdrawn one back on sale (409 otherwise)."
    ),
    tags=TAGS,
    body=ListingPatch,
    response=ListingOut,
    errors=(403, 404, BEYOND_ID, 409, 422),
)
def patch_listing(*, user, listing_id: int, body: ListingPatch):
    listing = service.get_visible(user, listing_id)
    changes = body.model_dump(exclude_unset=True)
    status = changes.pop("status", None)
    if changes or status is None:
        listing = service.edit(user, listing, service.ListingInput(**changes))
    # A status is a change asked for: 409 when the listing is not in the state it changes from.
    if status == "sold":
        service.mark_sold(user, listing)
    elif status == "active":
        service.relist(user, listing)
    return listing_out(listing, user)


@endpoint(
    "/listings/<int:listing_id>",
    "DELETE",
    summary="Withdraw one's own listing, or remove anyone's as a moderator",
    tags=TAGS,
    status=204,
    errors=(403, 404, BEYOND_ID, 409),
)
def delete_listing(*, user, listing_id: int):
    service.delete(user, service.get_visible(user, listing_id))
