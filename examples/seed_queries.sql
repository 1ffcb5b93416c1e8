select count(*) as total_events from (select * from guild_joins union select * from sword_purchases as guild_and_swords);
select host, count(*) as total_events from sword_purchases group by host;
select host, count(*) as total_events from guild_joins group by host;
select event_type, count(*) as total_events from (select * from guild_joins union select * from sword_purchases as guild_and_swords) group by event_type;
